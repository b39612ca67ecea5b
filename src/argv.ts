/** What the command line names, read before commander parses it (cli.ts). */

/**
 * The command the arguments name, after the global options, when only it needs building: undefined
 * when they name none, ask for help or the version anywhere, name `init` or `help` (both list every
 * command), or hold a global option written in a form read here only in part (`-Cdir`).
 */
export function commandNamed(argv: string[]): string | undefined {
  const args = argv.slice(2);
  const end = args.indexOf('--');
  const before = end === -1 ? args : args.slice(0, end);
  if (before.some((a) => a === '-h' || a === '--help' || a === '-V' || a === '--version')) return undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json' || a === '--verbose' || a.startsWith('--cwd=') || a.startsWith('--config=')) continue;
    if (a === '-C' || a === '--cwd' || a === '--config') {
      i++;
      continue;
    }
    if (a.startsWith('-') || a === 'init' || a === 'help') return undefined;
    return a;
  }
  return undefined;
}
