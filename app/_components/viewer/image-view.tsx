"use client";
// An image at most as wide as the page. PNG, JPEG, GIF and WebP come from the download route (the browser tells
// them by their bytes); an SVG from its text, as an image/svg+xml blob: the route serves every file as opaque
// bytes, and an SVG in <img> runs no scripts.
import { Text } from "@mantine/core";
import { useEffect, useState } from "react";
import { contentUrl } from "@/app/_components/files/paths";
import classes from "./viewer.module.css";

export function ImageView({ path, name, svg }: { path: string; name: string; svg?: string }) {
  const src = useSvgUrl(svg) ?? (svg === undefined ? contentUrl(path) : undefined);
  const [broken, setBroken] = useState(false);
  if (broken)
    return (
      <Text size="sm" role="alert">
        {name} could not be shown as an image: its contents may not be what its name says. Download it to open it in another program.
      </Text>
    );
  return (
    <div className={classes.imageFrame}>
      {src && (
        // eslint-disable-next-line @next/next/no-img-element
        <img className={classes.image} src={src} alt={name} decoding="async" onError={() => setBroken(true)} />
      )}
    </div>
  );
}

function useSvgUrl(svg: string | undefined): string | undefined {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (svg === undefined) return;
    const made = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [svg]);
  return url;
}
