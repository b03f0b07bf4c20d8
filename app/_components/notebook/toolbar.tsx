"use client";
// The notebook's toolbar: save, cells, running, the cell type, the kernel picker and, at the right, the
// kernel's state (role="status": idle, busy, starting with phase and elapsed time, ...). Names are a contract
// (UI.md): tests and screen readers find these controls by them.
import { ActionIcon, Divider, Group, Menu, NativeSelect, Tooltip, UnstyledButton } from "@mantine/core";
import {
  IconChevronDown,
  IconDeviceFloppy,
  IconDownload,
  IconKeyboard,
  IconPlayerPlay,
  IconPlayerStop,
  IconPlayerTrackNext,
  IconPlus,
  IconRefresh,
} from "@tabler/icons-react";
import { useEffect, useState, useSyncExternalStore, type ReactNode } from "react";
import { formatDuration } from "./cell";
import { SizeSelect } from "./kernel-quota";
import type { KernelSession, SessionStatus } from "./kernel-session";
import type { NotebookModel } from "./model";
import classes from "./notebook.module.css";

interface Props {
  title: string;
  /** Rename the notebook (its title is the button, as in JupyterLab). */
  onRename(): void;
  model: NotebookModel;
  session: KernelSession;
  onSave(): void;
  onAddCell(): void;
  onRunCell(): void;
  onRunAll(): void;
  /** Run the cells above the active one, or the active one and every cell below it. */
  onRunFrom(part: "above" | "below"): void;
  onRestart(runAll: boolean): void;
  onClearOutputs(): void;
  /** Replace the kernel: another kernelspec, another size, or a fresh one of the same (the page asks first if needed). */
  onReplaceKernel(change: KernelChange): void;
  onShowShortcuts(): void;
  /** Download what the page shows (unsaved edits too): the notebook itself, or as a Python script. */
  onDownload(format: "ipynb" | "py"): void;
}

export type KernelChange = { kind: "kernelspec"; name: string } | { kind: "size"; size: string } | { kind: "fresh" };

export function NotebookToolbar(props: Props) {
  const { model, session } = props;
  const status = useSyncExternalStore(session.subscribe, session.getStatus, session.getStatus);
  const activeType = useSyncExternalStore(
    (cb) => {
      const offUi = model.subscribeUi(cb);
      const offCell = model.activeId ? model.subscribeCell(model.activeId, cb) : () => undefined;
      const offStructure = model.subscribeStructure(cb);
      return () => (offUi(), offCell(), offStructure());
    },
    () => (model.activeId ? model.cell(model.activeId)?.type ?? "code" : "code"),
    () => "code",
  );
  const specs = session.specs ? Object.values(session.specs.kernelspecs) : [];
  const kernelOptions = specs.length
    ? specs.map((s) => ({ value: s.name, label: s.spec.display_name }))
    : status.kernelName
      ? [{ value: status.kernelName, label: status.displayName ?? status.kernelName }]
      : [{ value: "", label: "No kernels" }];

  return (
    // On a narrow window the controls wrap onto more rows rather than pushing the kernel status off-screen, which
    // stays at the right of the first row.
    <Group className={classes.toolbar} gap={4} wrap="nowrap" justify="space-between" align="flex-start">
      <Group gap={4} wrap="wrap" style={{ flex: 1, minWidth: 0 }}>
        <Tooltip label="Rename notebook" openDelay={400}>
          <UnstyledButton className={classes.title} aria-label={`Rename notebook ${props.title}`} onClick={props.onRename}>
            {props.title}
          </UnstyledButton>
        </Tooltip>
        <Divider orientation="vertical" mx={4} />
        <Tool label="Save" hint="Ctrl+S" onClick={props.onSave}><IconDeviceFloppy size={17} /></Tool>
        <Menu position="bottom-start" withinPortal>
          <Menu.Target>
            <ActionIcon variant="subtle" color="gray" size="sm" aria-label="Download">
              <IconDownload size={17} />
            </ActionIcon>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Label>Download as it is on screen</Menu.Label>
            <Menu.Item onClick={() => props.onDownload("ipynb")}>Notebook (.ipynb)</Menu.Item>
            <Menu.Item onClick={() => props.onDownload("py")}>Python script (.py)</Menu.Item>
          </Menu.Dropdown>
        </Menu>
        <Tool label="Add cell" hint="B" onClick={props.onAddCell}><IconPlus size={17} /></Tool>
        <Divider orientation="vertical" mx={4} />
        <Tool label="Run cell" hint="Shift+Enter" onClick={props.onRunCell}><IconPlayerPlay size={17} /></Tool>
        <Tool label="Run all" onClick={props.onRunAll}><IconPlayerTrackNext size={17} /></Tool>
        <Tool label="Interrupt kernel" hint="I I" onClick={() => void session.interrupt()}><IconPlayerStop size={17} /></Tool>
        <Tool label="Restart kernel" hint="0 0" onClick={() => props.onRestart(false)}><IconRefresh size={17} /></Tool>
        <Menu position="bottom-start" withinPortal>
          <Menu.Target>
            <ActionIcon variant="subtle" color="gray" size="sm" aria-label="More kernel actions">
              <IconChevronDown size={14} />
            </ActionIcon>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item onClick={() => props.onRunFrom("above")}>Run all above</Menu.Item>
            <Menu.Item onClick={() => props.onRunFrom("below")}>Run this cell and all below</Menu.Item>
            <Menu.Divider />
            <Menu.Item onClick={() => props.onRestart(true)}>Restart kernel and run all</Menu.Item>
            <Menu.Item onClick={props.onClearOutputs}>Clear all outputs</Menu.Item>
            <Menu.Divider />
            <Menu.Item color="red" onClick={() => props.onReplaceKernel({ kind: "fresh" })}>Shut down and start a new kernel</Menu.Item>
          </Menu.Dropdown>
        </Menu>
        <Divider orientation="vertical" mx={4} />
        <NativeSelect
          size="xs"
          aria-label="Cell type"
          value={activeType}
          data={[
            { value: "code", label: "Code" },
            { value: "markdown", label: "Markdown" },
            { value: "raw", label: "Raw" },
          ]}
          onChange={(e) => model.changeSelectedType(e.currentTarget.value as "code" | "markdown" | "raw")}
          w={110}
        />
        <NativeSelect
          size="xs"
          aria-label="Kernel"
          value={status.kernelName ?? ""}
          data={kernelOptions}
          onChange={(e) => e.currentTarget.value && props.onReplaceKernel({ kind: "kernelspec", name: e.currentTarget.value })}
          miw={150}
          maw={280}
        />
        <SizeSelect session={session} onPick={(size) => props.onReplaceKernel({ kind: "size", size })} />
        <Tool label="Keyboard shortcuts" hint="H" onClick={props.onShowShortcuts}><IconKeyboard size={17} /></Tool>
      </Group>
      <KernelStatus status={status} />
    </Group>
  );
}

function Tool({ label, hint, onClick, children }: { label: string; hint?: string; onClick(): void; children: ReactNode }) {
  return (
    <Tooltip label={hint ? `${label} (${hint})` : label} openDelay={400}>
      <ActionIcon variant="subtle" color="gray" aria-label={label} onClick={onClick}>
        {children}
      </ActionIcon>
    </Tooltip>
  );
}

/** The element beside the kernel status saying what a launch is doing (e2e specs read it to record launch phases). */
const KERNEL_STATUS_DETAIL_ID = "kernel-status-detail";

/**
 * The kernel's state in one word (the status element's whole text, as UI.md promises); while launching, what is
 * happening and for how long beside it, as the status's description.
 */
function KernelStatus({ status }: { status: SessionStatus }) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (!status.since) return;
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [status.since]);
  const detail = status.phase && status.since ? ` · ${status.phase} · ${formatDuration(Date.now() - status.since)}` : "";
  // A start that was refused (a quota, kernels that can't be listed) leaves no kernel to call dead.
  const word = status.state === "dead" && !status.kernelId ? "no kernel" : status.state;
  return (
    <span className={classes.status}>
      <span className={classes.dot} data-state={word === "no kernel" ? "none" : status.state} aria-hidden />
      <span role="status" aria-label="Kernel status" aria-live="polite" aria-describedby={detail ? KERNEL_STATUS_DETAIL_ID : undefined}>
        {word}
      </span>
      {detail && <span id={KERNEL_STATUS_DETAIL_ID}>{detail}</span>}
    </span>
  );
}
