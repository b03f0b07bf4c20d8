import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/trpc/root";

/** A file or folder as the files procedures return it. */
export type FileEntry = inferRouterOutputs<AppRouter>["files"]["list"]["entries"][number];

export type SortKey = "name" | "size" | "modified";
export interface Sort {
  key: SortKey;
  direction: "ascending" | "descending";
}
