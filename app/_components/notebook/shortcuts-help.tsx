"use client";
// The notebook's keyboard shortcuts, listed (H in command mode, or the toolbar's Keyboard shortcuts button). The keys
// themselves are bound in notebook-app.tsx (command mode) and code-editor.tsx (edit mode): a key added there is
// added here too.
import { Kbd, Modal, Table, Text, Title } from "@mantine/core";

const COMMAND_MODE: [keys: string, does: string][] = [
  ["Enter", "Edit the cell"],
  ["Shift+Enter", "Run the selected cells, select the next"],
  ["Ctrl+Enter", "Run the selected cells"],
  ["Alt+Enter", "Run the cell, insert a cell below"],
  ["↑ / K, ↓ / J", "Select the cell above, below"],
  ["Shift+↑ / Shift+K, Shift+↓ / Shift+J", "Select more cells (Shift+click too); the keys below act on them all"],
  ["Ctrl+A", "Select every cell"],
  ["Esc", "Select the active cell alone"],
  ["A, B", "Insert a cell above, below"],
  ["D D", "Delete the selected cells"],
  ["Z", "Undo the last delete or merge"],
  ["C, X, V, Shift+V", "Copy, cut, paste below, paste above"],
  ["Shift+M", "Merge the selected cells, or the cell below, into the first"],
  ["Ctrl+Shift+↑ / ↓", "Move the selected cells up, down"],
  ["M, Y, R", "Make the cell Markdown, code, raw"],
  ["O", "Hide or show the cell's outputs"],
  ["L", "Show or hide line numbers (every cell)"],
  ["I I", "Interrupt the kernel"],
  ["0 0", "Restart the kernel (asks first)"],
  ["H", "This list"],
];

const EDIT_MODE: [keys: string, does: string][] = [
  ["Esc", "Leave the editor (command mode)"],
  ["Shift+Enter, Ctrl+Enter, Alt+Enter", "Run, as in command mode"],
  ["Tab", "Complete the name (indent at the start of a line)"],
  ["Shift+Tab", "Show help for the name under the cursor"],
  ["Ctrl+Shift+-", "Split the cell at the cursor"],
  ["Ctrl+S", "Save"],
];

function Keys({ rows }: { rows: [string, string][] }) {
  return (
    <Table withRowBorders={false} verticalSpacing={3} mb="md">
      <Table.Tbody>
        {rows.map(([keys, does]) => (
          <Table.Tr key={keys}>
            <Table.Td w="42%">
              {keys.split(", ").map((combo, i) => (
                <span key={combo}>
                  {i > 0 && ", "}
                  <Kbd size="xs">{combo}</Kbd>
                </span>
              ))}
            </Table.Td>
            <Table.Td>
              <Text size="sm">{does}</Text>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function ShortcutsHelp({ opened, onClose }: { opened: boolean; onClose(): void }) {
  return (
    <Modal opened={opened} onClose={onClose} title="Keyboard shortcuts" size="lg" centered>
      <Title order={4} size="sm" mb={4}>
        Command mode (a cell selected, no editor focused)
      </Title>
      <Keys rows={COMMAND_MODE} />
      <Title order={4} size="sm" mb={4}>
        Edit mode (in a cell&apos;s editor)
      </Title>
      <Keys rows={EDIT_MODE} />
    </Modal>
  );
}
