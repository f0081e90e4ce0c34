import { Command } from 'commander';
import { main } from '../../src/cli/main';

/** Runs one registered `sil` command in process and returns what it printed on stdout. */
export async function runCommand(register: (program: Command) => void, args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  register(program);
  const out: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out.push(String(s));
    return true;
  });
  try {
    await program.parseAsync(['node', 'sil', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

/** Runs `sil ARGS` through the CLI's `main` in process: its exit code and what it printed on stdout and stderr. */
export async function runSil(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const so = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  const se = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  try {
    const code = await main(['node', 'sil', ...args]);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}
