// Where pgbench and psql connect: host/port/user/database plus the password (for Warden: the
// identity token), passed through the environment, never on a command line.
export interface Endpoint {
  name: string;
  port: number;
  user: string;
  database: string;
  password: string;
  /** Process to measure (CPU, RSS) while this endpoint is in use; none for direct. */
  pid?: number;
  /** Processes whose CPU is the endpoint's, when not `pid` alone (the workers of a group). */
  pids?: number[];
}

export function libpqArgs(e: Endpoint): string[] {
  return ['-h', '127.0.0.1', '-p', String(e.port), '-U', e.user];
}

export function libpqEnv(e: Endpoint): Record<string, string> {
  return { PGPASSWORD: e.password, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'warden-bench' };
}
