"use client";
// Mantine's Alert for messages that quote what the user typed or named: a 300-character file name has no
// spaces to break at and would run past the alert's edge, so its title and text wrap anywhere. Used for every
// alert of the Files and notebook pages (their messages quote paths).
import { Alert, type AlertProps } from "@mantine/core";

const wrapAnywhere = { overflowWrap: "anywhere", wordBreak: "break-word" } as const;
// The body is a flex item: without min-width 0 it would not shrink below its longest word.
const WRAPPING = { body: { minWidth: 0 }, title: wrapAnywhere, message: wrapAnywhere };

export function WrappingAlert(props: Omit<AlertProps, "styles">) {
  return <Alert {...props} styles={WRAPPING} />;
}
