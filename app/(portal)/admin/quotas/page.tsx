import type { Metadata } from "next";
import { QuotasAdmin } from "./quotas-admin";

export const metadata: Metadata = { title: "Quotas" };

export default function AdminQuotasPage() {
  return <QuotasAdmin />;
}
