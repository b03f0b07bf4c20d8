import type { Metadata } from "next";
import { MyUsage } from "./my-usage";

export const metadata: Metadata = { title: "Usage" };

export default function UsagePage() {
  return <MyUsage />;
}
