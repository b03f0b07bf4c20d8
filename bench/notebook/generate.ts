// Generated notebooks for the notebook-page bench: nbformat 4.5 JSON, written straight into a user's home.
//   thousandCells(): 1,000 code cells, short code, one small stream output each (+ an execute_result on some)
//   pngCells(): 200 code cells, each with a 400×300 PNG display_data (a plot-like image made here with zlib)
//   streamingNotebook(): a cell that prints 100,000 lines and an empty cell to type into
import zlib from 'node:zlib';

type Json = Record<string, unknown>;

const KERNELSPEC = { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' };

function notebook(cells: Json[], kernelspec = KERNELSPEC): Json {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec, language_info: { name: 'python' } },
    cells,
  };
}

const id = (prefix: string, i: number) => `${prefix}-${i.toString().padStart(4, '0')}`;

export function thousandCells(n = 1000, kernelspec = KERNELSPEC): Json {
  const cells: Json[] = [];
  for (let i = 0; i < n; i++) {
    const source = [`x${i} = ${i} * 2`, `print("row", ${i}, x${i})`];
    const outputs: Json[] = [{ output_type: 'stream', name: 'stdout', text: [`row ${i} ${i * 2}\n`] }];
    if (i % 5 === 0) outputs.push({ output_type: 'execute_result', execution_count: i + 1, metadata: {}, data: { 'text/plain': [`${i * 2}`] } });
    cells.push({ cell_type: 'code', id: id('c', i), metadata: {}, execution_count: i + 1, source: source.join('\n'), outputs });
  }
  return notebook(cells, kernelspec);
}

// --- PNG (RGB, 8 bit, filter 0 on every row) ---

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

/** Deterministic PRNG (mulberry32) so every run gets the same images. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plot-like 400×300 image: axes, grid, a curve and a cloud of coloured scatter points (the part that
 *  makes it compress like a real matplotlib figure: ~20–40 KB of base64). */
export function plotPng(seed: number, width = 400, height = 300, points = 900): Buffer {
  const rand = rng(seed + 1);
  const px = Buffer.alloc(width * height * 3, 255);
  const set = (x: number, y: number, r: number, g: number, b: number) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const o = (y * width + x) * 3;
    px[o] = r;
    px[o + 1] = g;
    px[o + 2] = b;
  };
  for (let x = 40; x < width - 10; x++) for (const y of [20, 90, 160, 230]) set(x, y, 235, 235, 235);
  for (let y = 10; y < height - 30; y++) set(40, y, 0, 0, 0);
  for (let x = 40; x < width - 10; x++) set(x, height - 30, 0, 0, 0);
  const phase = rand() * 6;
  for (let x = 41; x < width - 10; x++) {
    const y = Math.round(140 + 80 * Math.sin(x / 30 + phase));
    for (let d = -1; d <= 1; d++) set(x, y + d, 31, 119, 180);
  }
  for (let i = 0; i < points; i++) {
    const x = 42 + Math.floor(rand() * (width - 55));
    const y = 12 + Math.floor(rand() * (height - 45));
    const r = 150 + Math.floor(rand() * 105), g = 60 + Math.floor(rand() * 120), b = Math.floor(rand() * 90);
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) set(x + dx, y + dy, r - Math.abs(dx) * 20, g, b + Math.abs(dy) * 20);
  }
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    px.copy(raw, y * (width * 3 + 1) + 1, y * width * 3, (y + 1) * width * 3);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 6 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export function pngCells(n = 200, kernelspec = KERNELSPEC): { notebook: Json; base64Bytes: number[] } {
  const cells: Json[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    const b64 = plotPng(i).toString('base64');
    sizes.push(b64.length);
    // Jupyter writes base64 in one string with a trailing newline
    const outputs = [
      { output_type: 'display_data', metadata: {}, data: { 'image/png': b64 + '\n', 'text/plain': ['<Figure size 400x300 with 1 Axes>'] } },
    ];
    const source = `plt.figure(figsize=(4, 3))\nplt.scatter(x[${i}], y[${i}])\nplt.show()`;
    cells.push({ cell_type: 'code', id: id('p', i), metadata: {}, execution_count: i + 1, source, outputs });
  }
  return { notebook: notebook(cells, kernelspec), base64Bytes: sizes };
}

export function streamingNotebook(code: string, kernelspec = KERNELSPEC): Json {
  return notebook(
    [
      { cell_type: 'code', id: 's-0000', metadata: {}, execution_count: null, source: code, outputs: [] },
      { cell_type: 'code', id: 's-0001', metadata: {}, execution_count: null, source: '', outputs: [] },
    ],
    kernelspec,
  );
}

export function tinyNotebook(kernelspec = KERNELSPEC): Json {
  return notebook([{ cell_type: 'code', id: 'w-0000', metadata: {}, execution_count: 1, source: 'print("warm")', outputs: [{ output_type: 'stream', name: 'stdout', text: ['warm\n'] }] }], kernelspec);
}
