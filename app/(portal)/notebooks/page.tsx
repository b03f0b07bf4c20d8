import type { Metadata } from "next";
import { RecentNotebooks } from "@/app/_components/notebook/recent-notebooks";

export const metadata: Metadata = { title: "Notebooks" };

export default function NotebooksPage() {
  return <RecentNotebooks />;
}
