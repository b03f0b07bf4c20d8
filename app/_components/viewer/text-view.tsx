"use client";
// A text file's first bytes in a monospace block that scrolls both ways (long lines are kept, not wrapped).
import { Text } from "@mantine/core";
import classes from "./viewer.module.css";

/** What the viewer says of a file with nothing to show. */
export function EmptyFile() {
  return (
    <Text c="dimmed" size="sm">
      This file is empty.
    </Text>
  );
}

export function TextView({ name, text }: { name: string; text: string }) {
  if (text === "") return <EmptyFile />;
  return (
    // Focusable, so the keyboard can scroll it; named, because a focusable region needs a name.
    <div className={classes.frame} role="region" aria-label={`Text of ${name}`} tabIndex={0}>
      <pre className={classes.text}>{text}</pre>
    </div>
  );
}
