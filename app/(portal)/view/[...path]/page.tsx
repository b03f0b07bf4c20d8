import type { Metadata } from "next";
import { homePathOfAddress } from "@/app/_components/files/address-refused";
import { FileViewer } from "@/app/_components/viewer/file-viewer";

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
  const address = homePathOfAddress((await params).path, "a file");
  return "refused" in address ? address.refused : <FileViewer key={address.path} path={address.path} />;
}
