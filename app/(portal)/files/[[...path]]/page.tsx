import type { Metadata } from "next";
import { FileBrowser } from "@/app/_components/files/file-browser";
import { homePathOfAddress } from "@/app/_components/files/address-refused";

export const metadata: Metadata = { title: "Files" };

// /files is the home folder, /files/<folder path> a folder in it. Next 16 hands over catch-all segments
// still percent-encoded (seen on both full loads and client navigations; e2e/files.spec.ts checks a name
// with "%" and a space both ways), so they are decoded exactly once here: '..%2F..' becomes '../..' and is
// refused with the store's own words before the page asks for anything.
export default async function FilesPage({ params }: { params: Promise<{ path?: string[] }> }) {
  const address = homePathOfAddress((await params).path ?? [], "a folder");
  return "refused" in address ? address.refused : <FileBrowser key={address.path} path={address.path} />;
}
