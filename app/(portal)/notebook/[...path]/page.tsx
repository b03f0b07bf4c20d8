import type { Metadata } from "next";
import { NotebookPage } from "./notebook-page";

// /notebook/<home-relative path>: the notebook editor. The page itself is client-only (editors, sockets).
interface Props {
  params: Promise<{ path: string[] }>;
}

function notebookPath(segments: string[]): string {
  return segments
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join("/");
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { path } = await params;
  return { title: notebookPath(path).split("/").pop() };
}

export default async function Page({ params }: Props) {
  const { path } = await params;
  return <NotebookPage path={notebookPath(path)} />;
}
