import { Command } from 'commander';

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
