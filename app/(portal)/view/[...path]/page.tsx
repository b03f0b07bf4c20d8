import type { Metadata } from "next";
import { AddressRefused } from "@/app/_components/files/address-refused";
import { FileViewer } from "@/app/_components/viewer/file-viewer";
import { asAppError } from "@/server/errors";
import { homePathFromUrl } from "@/server/files/home-path";

// /view/<home path>: a file shown read-only (text, a CSV/TSV table, an image). Like /files, the catch-all's
// segments arrive still percent-encoded and are decoded exactly once here, so '..%2F..' is refused with the
// store's own words before anything is read.
interface Props {
  params: Promise<{ path: string[] }>;
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { path } = await params;
  const last = path.at(-1) ?? "";
  try {
    return { title: decodeURIComponent(last) };
  } catch {
    return { title: last };
  }
}

export default async function ViewPage({ params }: Props) {
  const { path: segments } = await params;
  let path: string;
  try {
    path = homePathFromUrl(segments.join("/"));
  } catch (error) {
    const known = asAppError(error);
    if (!known) throw error;
    return <AddressRefused leadsTo="a file" message={known.message} />;
  }
  return <FileViewer key={path} path={path} />;
}
