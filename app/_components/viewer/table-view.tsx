"use client";
// A CSV or TSV file as a table: the first line is the header, then the first TABLE_ROWS rows.
import { Table } from "@mantine/core";
import { useMemo } from "react";
import { parseDelimited, type DelimitedTable } from "./delimited";
import { TABLE_ROWS } from "@/server/files/file-kind";
import { EmptyFile } from "./text-view";
import classes from "./viewer.module.css";

const count = new Intl.NumberFormat("en-US");

export function parseForTable(text: string, delimiter: string, cut: boolean): DelimitedTable {
  return parseDelimited(text, { delimiter, maxRows: TABLE_ROWS, cut });
}

export function TableView({ name, table }: { name: string; table: DelimitedTable }) {
  // Ragged rows: the table is as wide as the widest row; a column without a header is numbered.
  const columns = useMemo(() => Array.from({ length: table.columns }, (_, i) => table.header[i] || `Column ${i + 1}`), [table]);
  if (table.columns === 0) return <EmptyFile />;
  return (
    <div className={classes.frame} role="region" aria-label={`Table of ${name}`} tabIndex={0}>
      <Table aria-label={name} stickyHeader striped highlightOnHover withColumnBorders fz="sm" verticalSpacing={4}>
        <Table.Thead>
          <Table.Tr>
            {columns.map((column, i) => (
              <Table.Th key={i} className={classes.cell} title={column}>
                {column}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {table.rows.map((row, r) => (
            <Table.Tr key={r}>
              {columns.map((_, c) => (
                <Table.Td key={c} className={classes.cell} title={row[c]}>
                  {row[c]}
                </Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </div>
  );
}

export function rowsShown(rows: number): string {
  return `${count.format(rows)} ${rows === 1 ? "row" : "rows"}`;
}
