// Where a file's viewer lives: /view/<path>, each segment percent-encoded as notebook and folder links are.
import { encodePath } from "@/app/_components/files/paths";

export function viewHref(path: string): string {
  return `/view/${encodePath(path)}`;
}

/** The folder a file is in ('' for the home folder). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}
