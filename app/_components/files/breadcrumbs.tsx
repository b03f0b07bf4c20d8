"use client";
import { Anchor, Breadcrumbs, Text } from "@mantine/core";
import { IconHome } from "@tabler/icons-react";
import Link from "next/link";
import { crumbsOf, folderHref } from "./paths";

/** Home › a › b, each part a link to that folder except the one being shown. */
export function FileBreadcrumbs({ path }: { path: string }) {
  const crumbs = crumbsOf(path);
  return (
    <nav aria-label="Breadcrumb" style={{ minWidth: 0 }}>
      <Breadcrumbs separatorMargin={6} styles={{ root: { flexWrap: "wrap" } }}>
        {crumbs.map((crumb, i) =>
          i === crumbs.length - 1 ? (
            <Text key={crumb.path} fw={600} size="lg" aria-current="page" truncate="end" maw={360} title={crumb.label}>
              {crumb.path === "" ? <HomeLabel /> : crumb.label}
            </Text>
          ) : (
            <Anchor key={crumb.path} component={Link} href={folderHref(crumb.path)} size="lg" truncate="end" maw={240} title={crumb.label}>
              {crumb.path === "" ? <HomeLabel /> : crumb.label}
            </Anchor>
          ),
        )}
      </Breadcrumbs>
    </nav>
  );
}

function HomeLabel() {
  return (
    <span style={{ display: "inline-flex", alignItems: "center", gap: 6 }}>
      <IconHome size={18} stroke={1.7} aria-hidden /> Home
    </span>
  );
}
