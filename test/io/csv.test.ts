/** The one CSV module: plain decimals, RFC 4180 quoting through fast-csv, and a reader for the same text. */
import { parse } from 'fast-csv';
import { csvNumber, objectsToCsv, parseCsv, toCsv } from '../../src/io/csv';

describe('csv', () => {
  it('writes numbers as plain decimals without exponents, with the shortest round-trip digits', () => {
    expect(csvNumber(1e-7)).toBe('0.0000001');
    expect(csvNumber(1.5e-7)).toBe('0.00000015');
    expect(csvNumber(-2.5e-10)).toBe('-0.00000000025');
    expect(csvNumber(1.2345e21)).toBe('1234500000000000000000');
    expect(csvNumber(0.125)).toBe('0.125');
    expect(csvNumber(0.1 + 0.2)).toBe('0.30000000000000004');
    for (const x of [1e-7, 1.5e-7, 3.4028234663852886e38, 5e-324, -0.1, 1 / 3]) expect(Number(csvNumber(x))).toBe(x);
  });

  it('spells NaN and infinities, and leaves null and undefined empty', () => {
    expect(toCsv(['a', 'b', 'c', 'd', 'e'], [[NaN, Infinity, -Infinity, null, undefined]])).toBe('a,b,c,d,e\nNaN,Infinity,-Infinity,,\n');
  });

  it('quotes fields with commas, quotes and line breaks, ends every row with a newline, and reads back what it wrote', () => {
    const header = ['name', 'note, with comma', 'x'];
    const rows = [
      ['a "quoted" word', 'line\nbreak', 1.5e-7],
      ['plain', '', 2],
    ];
    const text = toCsv(header, rows);
    expect(text).toBe('name,"note, with comma",x\n"a ""quoted"" word","line\nbreak",0.00000015\nplain,,2\n');
    expect(parseCsv(text)).toEqual({
      header,
      rows: [
        { name: 'a "quoted" word', 'note, with comma': 'line\nbreak', x: '0.00000015' },
        { name: 'plain', 'note, with comma': '', x: '2' },
      ],
    });
  });

  it('parses the same records as fast-csv’s own parser, with a BOM and CRLF row ends', async () => {
    const text = '\uFEFFa,b\r\n"x,""y""",2\r\n,\r\n';
    const theirs = await new Promise<string[][]>((resolve, reject) => {
      const rows: string[][] = [];
      parse({ headers: false })
        .on('data', (r: string[]) => rows.push(r))
        .on('error', reject)
        .on('end', () => resolve(rows))
        .end(text);
    });
    const ours = parseCsv(text);
    expect([ours.header, ...ours.rows.map((r) => ours.header.map((h) => r[h]))]).toEqual(theirs);
  });

  it('writes objects by column and only a header for no rows', () => {
    expect(objectsToCsv<{ a: number; b: string }>(['b', 'a'], [{ a: 1, b: 'x' }])).toBe('b,a\nx,1\n');
    expect(objectsToCsv<{ a: number }>(['a'], [])).toBe('a\n');
  });
});
