/**
 * Node.js ran out of work while a command waited (a promise nothing settles). A TypeScript revision's
 * own wait reports it as the revision's failure (tsrevision.ts) and marks `handled`, so cli.ts's last
 * resort (exit 1, never 0 with the command unfinished) stands down that time.
 */
export const stuck = { handled: false };
