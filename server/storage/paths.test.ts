import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  MAX_PATH_BYTES,
  StorageError,
  baseName,
  decodeUserPath,
  extensionOf,
  isSameOrInside,
  joinPath,
  normalizePath,
  parentPath,
  splitPath,
} from './paths';

function assertInvalid(fn: () => unknown, messagePart?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof StorageError, `expected StorageError, got ${String(error)}`);
    assert.equal(error.code, 'INVALID_PATH');
    assert.ok(error.message.length > 0);
    if (messagePart) assert.match(error.message, messagePart);
    return true;
  });
}

describe('normalizePath accepts and normalizes', () => {
  const cases: Array<[input: string, expected: string, why: string]> = [
    ['', '', 'empty is the home root'],
    ['/', '', 'a lone slash is the home root'],
    ['.', '', 'dot is the home root'],
    ['./', '', 'dot slash is the home root'],
    ['a', 'a', 'plain name'],
    ['/a/b/', 'a/b', 'leading and trailing slashes are stripped'],
    ['a//b///c', 'a/b/c', 'duplicate slashes collapse'],
    ['a/./b/.', 'a/b', 'dot segments collapse'],
    ['a\\b\\c.txt', 'a/b/c.txt', 'backslashes become separators'],
    ['cafe\u0301.ipynb', 'caf\u00e9.ipynb', 'NFD becomes NFC'],
    ['données/été 2024 — résumé 📊.ipynb', 'données/été 2024 — résumé 📊.ipynb', 'unicode names'],
    ['...', '...', 'three dots is an ordinary name'],
    ['a..b/..c/d..', 'a..b/..c/d..', 'dots inside names are fine'],
    [' leading space', ' leading space', 'spaces around visible text are kept'],
    ['.bashrc', '.bashrc', 'hidden files are allowed'],
    ['~backup', '~backup', 'tilde inside a name is fine'],
    ['a/~', 'a/~', 'tilde below the root is an ordinary name'],
    ['run 12:30.csv', 'run 12:30.csv', 'colons in names are fine'],
    ['a:b.txt', 'a:b.txt', 'a letter and colon not followed by a separator is a name, not a drive'],
    ['%2e%2e', '%2e%2e', 'no decoding here: a literal percent name'],
    ['x'.repeat(255), 'x'.repeat(255), 'a 255-byte name'],
    ['é'.repeat(127), 'é'.repeat(127), '254 bytes of two-byte characters'],
    ['👨‍👩‍👧.txt', '👨‍👩‍👧.txt', 'zero-width joiner in emoji is allowed'],
  ];
  for (const [input, expected, why] of cases) {
    it(`${why}: ${JSON.stringify(input)}`, () => {
      assert.equal(normalizePath(input), expected);
    });
  }

  it('a path of exactly the maximum length is accepted', () => {
    // 15 names of 255 bytes, one of 254, 15 slashes, then '/y': 4096 bytes.
    const parts = [...Array.from({ length: 15 }, () => 'x'.repeat(255)), 'x'.repeat(254)];
    const path = `${parts.join('/')}/y`;
    assert.equal(Buffer.byteLength(path), MAX_PATH_BYTES);
    assert.equal(normalizePath(path), path);
    assertInvalid(() => normalizePath(`${path}z`), /4096 bytes/);
  });

  it('is idempotent', () => {
    for (const input of ['/a//b/./c/', 'cafe\u0301', 'x\\y']) {
      const once = normalizePath(input);
      assert.equal(normalizePath(once), once);
    }
  });
});

describe('normalizePath refuses', () => {
  const cases: Array<[input: string, why: string, message?: RegExp]> = [
    ['..', 'parent segment', /"\.\."/],
    ['../etc/passwd', 'leading parent segment'],
    ['a/../../b', 'parent segment in the middle'],
    ['a/..', 'trailing parent segment'],
    ['..\\..\\windows', 'parent segments with backslashes'],
    ['a/b\\..\\..\\c', 'mixed separators'],
    ['a\u0000b', 'NUL byte', /control characters/],
    ['a\nb', 'newline'],
    ['a\tb', 'tab'],
    ['a\u007fb', 'DEL'],
    ['a\u0085b', 'C1 control (NEL)'],
    ['invoice\u202egnp.exe', 'right-to-left override'],
    ['a\u2066b', 'bidi isolate'],
    ['\ud800x', 'lone high surrogate', /not valid Unicode/],
    ['x\udc00', 'lone low surrogate'],
    ['   ', 'whitespace-only name', /spaces/],
    ['a/ /b', 'whitespace-only segment'],
    ['a/\u00a0\u3000', 'unicode whitespace-only segment'],
    ['x'.repeat(256), '256-byte name', /255 bytes/],
    ['é'.repeat(128), '256 bytes of two-byte characters'],
    [`${Array.from({ length: 17 }, () => 'x'.repeat(255)).join('/')}`, 'path over 4096 bytes', /4096 bytes/],
    ['x'.repeat(20_000), 'huge raw input'],
    ['//server/share', 'UNC share with slashes', /network share/],
    ['\\\\server\\share', 'UNC share with backslashes'],
    ['C:\\Windows', 'Windows drive', /Windows drive/],
    ['c:/x', 'Windows drive, forward slash'],
    ['C:', 'bare drive'],
    ['file:///etc/passwd', 'file URL', /URL/],
    ['https://example.com/x', 'http URL'],
    ['~', 'home shorthand', /~/],
    ['~/notes.txt', 'home shorthand prefix'],
    ['/~/notes.txt', 'home shorthand after root slash'],
    ['.atrium-tmp-abc', 'reserved temp prefix', /reserved/],
    ['a/.atrium-tmp-abc/b', 'reserved temp prefix in the middle'],
  ];
  for (const [input, why, message] of cases) {
    it(why, () => assertInvalid(() => normalizePath(input), message));
  }

  it('refuses a non-string at runtime', () => {
    assertInvalid(() => normalizePath(42 as unknown as string));
  });

  it('escapes control characters and shortens long input in messages', () => {
    assert.throws(
      () => normalizePath('evil\nFAKE LOG LINE'),
      (error: StorageError) => !error.message.includes('\n') && error.message.includes('\\u000a'),
    );
    assert.throws(() => normalizePath('x'.repeat(20_000)), (error: StorageError) => error.message.length < 400);
  });
});

describe('decodeUserPath', () => {
  const ok: Array<[input: string | string[], expected: string]> = [
    ['notebooks%2Fanalysis.ipynb', 'notebooks/analysis.ipynb'],
    ['caf%C3%A9', 'café'],
    ['cafe%CC%81', 'café'],
    ['a%20b', 'a b'],
    ['a+b', 'a+b'],
    ['%252e%252e', '%2e%2e'],
    [['projects', 'q%201', 'data.csv'], 'projects/q 1/data.csv'],
    [[], ''],
  ];
  for (const [input, expected] of ok) {
    it(`decodes ${JSON.stringify(input)}`, () => assert.equal(decodeUserPath(input), expected));
  }

  const refused: Array<[input: string | string[], why: string]> = [
    ['%2e%2e', 'encoded parent segment'],
    ['%2E%2E%2Fetc%2Fpasswd', 'upper-case encoded traversal'],
    ['..%2f..%2fetc', 'encoded slash between parents'],
    ['a%2F..%2F..%2Fb', 'encoded traversal in the middle'],
    ['..%5c..%5cx', 'encoded backslashes'],
    ['%00', 'encoded NUL'],
    ['%0a', 'encoded newline'],
    ['%2Fetc%2Fpasswd%00.png', 'encoded NUL after a path'],
    ['%E0%A4%A', 'malformed escape'],
    ['%', 'lone percent'],
    [['ok', '%2e%2e', 'x'], 'traversal in one route segment'],
    [['ok', '..'], 'raw traversal in a route segment'],
  ];
  for (const [input, why] of refused) {
    it(`refuses ${why}`, () => assertInvalid(() => decodeUserPath(input)));
  }
});

describe('path helpers', () => {
  it('joinPath joins and normalizes', () => {
    const cases: Array<[parts: string[], expected: string]> = [
      [['', 'a'], 'a'],
      [['a', 'b'], 'a/b'],
      [['a/', '/b/', 'c'], 'a/b/c'],
      [['a', 'b/c'], 'a/b/c'],
      [['a', '.', 'b'], 'a/b'],
      [[], ''],
    ];
    for (const [parts, expected] of cases) assert.equal(joinPath(...parts), expected, JSON.stringify(parts));
    assertInvalid(() => joinPath('a', '..', 'b'));
    assertInvalid(() => joinPath('a', '../../etc'));
  });

  it('parentPath', () => {
    const cases: Array<[input: string, expected: string | null]> = [
      ['', null],
      ['/', null],
      ['a', ''],
      ['/a/', ''],
      ['a/b', 'a'],
      ['a/b/c.txt', 'a/b'],
    ];
    for (const [input, expected] of cases) assert.equal(parentPath(input), expected, input);
  });

  it('baseName', () => {
    const cases: Array<[input: string, expected: string]> = [
      ['', ''],
      ['a', 'a'],
      ['a/b/', 'b'],
      ['a/b/c.txt', 'c.txt'],
    ];
    for (const [input, expected] of cases) assert.equal(baseName(input), expected, input);
  });

  it('extensionOf', () => {
    const cases: Array<[input: string, expected: string]> = [
      ['notebook.ipynb', '.ipynb'],
      ['a/b/archive.tar.gz', '.gz'],
      ['README', ''],
      ['.bashrc', ''],
      ['.config.json', '.json'],
      ['trailing.', ''],
      ['dir.d/file', ''],
      ['DATA.CSV', '.CSV'],
      ['', ''],
    ];
    for (const [input, expected] of cases) assert.equal(extensionOf(input), expected, input);
  });

  it('splitPath', () => {
    assert.deepEqual(splitPath(''), []);
    assert.deepEqual(splitPath('/a//b/'), ['a', 'b']);
  });

  it('isSameOrInside', () => {
    const cases: Array<[ancestor: string, candidate: string, expected: boolean]> = [
      ['', 'a', true],
      ['', '', true],
      ['a', 'a', true],
      ['a', 'a/b', true],
      ['a', 'ab', false],
      ['a/b', 'a', false],
      ['a/b', 'a/bc/d', false],
    ];
    for (const [ancestor, candidate, expected] of cases) {
      assert.equal(isSameOrInside(ancestor, candidate), expected, `${ancestor} / ${candidate}`);
    }
  });
});
