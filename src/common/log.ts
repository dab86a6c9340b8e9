// The runner's own log lines (not the pipeline's output, not job messages to clients): one line
// per event on stderr, with the ids that place it (job, stage, task, attempt, worker) as fields.
// BEAM_LAMBDA_LOG_FORMAT picks text ("2026-12-01T05:55:16.123Z INFO job=j stage=s2 task=3
// attempt=0 msg") or JSON (one object per line, for CloudWatch Logs Insights and the like);
// BEAM_LAMBDA_LOG_LEVEL the least important level written. Both are read once per process, so a
// worker started with the server's settings in its environment logs as the server does.
import { readSetting } from "./config.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

/** The ids and facts a line carries besides its message. */
export type LogFields = Record<string, string | number | boolean | undefined>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where lines go, and in which form: settable for tests and the CLI's flags. */
export interface LogSink {
  format: "text" | "json";
  level: LogLevel;
  write(line: string): void;
}

let sink: LogSink | undefined;

function currentSink(): LogSink {
  sink ??= { format: readSetting("logFormat"), level: readSetting("logLevel"), write: (line) => process.stderr.write(line) };
  return sink;
}

/** Overrides where and how this process logs (the CLI's --log-format / --log-level; tests). */
export function configureLogging(settings: Partial<LogSink>): void {
  sink = { ...currentSink(), ...settings };
}

export class Logger {
  constructor(private readonly fields: LogFields = {}) {}

  /** A logger whose lines also carry `fields` (a job's id, then a task's, ...). */
  child(fields: LogFields): Logger {
    return new Logger({ ...this.fields, ...fields });
  }

  debug(message: string, fields?: LogFields): void {
    this.write("debug", message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.write("info", message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.write("warn", message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.write("error", message, fields);
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[currentSink().level];
  }

  private write(level: LogLevel, message: string, extra?: LogFields): void {
    const out = currentSink();
    if (RANK[level] < RANK[out.level]) return;
    const fields = Object.entries({ ...this.fields, ...extra }).filter(([, v]) => v !== undefined);
    const time = new Date().toISOString();
    if (out.format === "json") {
      out.write(`${JSON.stringify({ time, level, ...Object.fromEntries(fields), msg: message })}\n`);
    } else {
      const context = fields.map(([k, v]) => `${k}=${typeof v === "string" && /\s/.test(v) ? JSON.stringify(v) : String(v)}`).join(" ");
      out.write(`${time} ${level.toUpperCase().padEnd(5)} ${context ? `${context} ` : ""}${message}\n`);
    }
  }
}

/** The process's root logger; components take a child with their name (`log.child({ component: "driver" })`). */
export const log = new Logger();
