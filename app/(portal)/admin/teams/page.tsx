import type { Metadata } from "next";
import { TeamsAdmin } from "./teams-admin";

export const metadata: Metadata = { title: "Teams" };

export default function TeamsPage() {
  return <TeamsAdmin />;
}
