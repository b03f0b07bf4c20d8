import type { Metadata } from "next";
import { LiveKernels } from "./live-kernels";

export const metadata: Metadata = { title: "Live kernels" };

export default function AdminKernelsPage() {
  return <LiveKernels />;
}
