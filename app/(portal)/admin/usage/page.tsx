import type { Metadata } from "next";
import { UsageReport } from "./usage-report";

export const metadata: Metadata = { title: "Usage reports" };

export default function AdminUsagePage() {
  return <UsageReport />;
}
