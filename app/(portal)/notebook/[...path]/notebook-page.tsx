"use client";
import { Center, Loader } from "@mantine/core";
import dynamic from "next/dynamic";

// Editors, sockets and DOMPurify need the browser: the notebook renders on the client only.
const NotebookApp = dynamic(() => import("@/app/_components/notebook/notebook-app").then((m) => m.NotebookApp), {
  ssr: false,
  loading: () => (
    <Center h={200}>
      <Loader size="sm" />
    </Center>
  ),
});

export function NotebookPage({ path }: { path: string }) {
  return <NotebookApp key={path} path={path} />;
}
