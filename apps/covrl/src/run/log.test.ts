/**
 * Run logs: the resolved config is the first record, events carry their kind and term, resume
 * truncation keeps the config; progress writes plain lines with a heartbeat when not on a TTY and
 * a bar on one.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { assertFinite, NonFiniteError, Progress, readLog, RunLog } from './log.js';

/** `text` as a literal in a regular expression. */
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A stand-in for process.stderr that records what is written. */
function stream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const s = {
    isTTY,
    write: (chunk: string) => {
      chunks.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream: s, text: () => chunks.join('') };
}

describe('Progress without a TTY', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes plain lines every 5 % of the run and a heartbeat while a step is slow', () => {
    const out = stream(false);
    const p = new Progress({ label: 'covrl', total: 40, stream: out.stream, heartbeatSeconds: 30 });
    vi.advanceTimersByTime(1000);
    p.update(1, 'reward 0.100 loss 1.000');
    p.update(2, 'reward 0.200 loss 0.900'); // every 2 steps = 5 % of 40
    p.update(3, 'reward 0.300 loss 0.800');
    let lines = out.text().split('\n').filter(Boolean);
    expect(lines).toEqual([
      expect.stringMatching(/^covrl step 2\/40 reward 0\.200 loss 0\.900 \(0\.5 s\/step, 1s\)$/),
    ]);
    // Nothing new for 30 s: one heartbeat naming the step being worked on, and no escape codes.
    vi.advanceTimersByTime(29_000);
    expect(out.text().split('\n').filter(Boolean)).toHaveLength(1);
    vi.advanceTimersByTime(6_000);
    lines = out.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('covrl: still working on step 4/40 (35s)');
    expect(out.text()).not.toContain('\r');
    expect(out.text()).not.toContain('\x1b[');
    // Off the 5 % grid a step prints only after 15 s without a line (the heartbeat was one).
    p.update(5, 'reward 0.500 loss 0.600');
    expect(out.text().split('\n').filter(Boolean)).toHaveLength(2);
    vi.advanceTimersByTime(15_000);
    p.update(7, 'reward 0.500 loss 0.600');
    expect(out.text().split('\n').filter(Boolean)[2]).toMatch(/^covrl step 7\/40 /);
    p.update(40, 'done');
    expect(out.text().split('\n').filter(Boolean).at(-1)).toMatch(/^covrl step 40\/40 done /);
    p.note('interrupt: saving');
    expect(out.text().endsWith('interrupt: saving\n')).toBe(true);
    p.stop();
    const length = out.text().length;
    vi.advanceTimersByTime(120_000);
    expect(out.text().length).toBe(length); // stopped: no more heartbeats
  });
});

describe('Progress on a TTY', () => {
  it('redraws one bar line and ends it at the last step; no heartbeat', () => {
    vi.useFakeTimers();
    const out = stream(true);
    const p = new Progress({ label: 'rlpr', total: 4, stream: out.stream, heartbeatSeconds: 1 });
    p.update(1, 'r');
    p.update(2, 'r');
    vi.advanceTimersByTime(10_000);
    expect(out.text()).not.toContain('still working');
    p.update(4, 'r');
    const text = out.text();
    expect(text.split('\r').filter(Boolean)).toHaveLength(3);
    expect(text).toContain('rlpr [######..................] 1/4');
    expect(text).toContain('rlpr [########################] 4/4');
    expect(text.endsWith('\n')).toBe(true);
    p.stop();
    vi.useRealTimers();
  });
});

describe('RunLog', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'covrl-log-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts with the resolved config, keeps it on resume truncation, records typed events', () => {
    const log = new RunLog(dir);
    const config = { method: 'covrl', train: { lr: 1e-5, steps: 3 } };
    log.start('covrl train --method covrl', config);
    log.step(1, { 'loss/pg': 0.5, 'grad/norm': Number.NaN });
    log.samples(1, [{ question: 'q', reward: -1 }]);
    log.step(2, { 'loss/pg': 0.4 });
    log.samples(2, [{ question: 'q2', reward: Number.NEGATIVE_INFINITY }]);
    log.event(2, 'stopped', { kind: 'non-finite', term: 'loss/kl', value: Number.NaN });
    const records = readLog(log.metricsPath);
    expect(records[0]).toMatchObject({
      type: 'config',
      command: 'covrl train --method covrl',
      config,
    });
    expect(records[1]).toMatchObject({ type: 'step', step: 1, metrics: { 'grad/norm': 'NaN' } });
    expect(records[3]).toMatchObject({
      type: 'event',
      step: 2,
      kind: 'non-finite',
      term: 'loss/kl',
    });
    const samples = readFileSync(log.samplesPath, 'utf8').trim().split('\n');
    expect(samples.map((l) => JSON.parse(l) as unknown)).toEqual([
      { step: 1, question: 'q', reward: -1 },
      { step: 2, question: 'q2', reward: '-Infinity' },
    ]);
    log.truncateAfter(1);
    expect(readLog(log.metricsPath).map((r) => r.type)).toEqual(['config', 'step']);
    expect(readFileSync(log.samplesPath, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('resume truncation drops a torn last line (a killed append) and says so', () => {
    const log = new RunLog(dir);
    log.start('covrl train', { method: 'grpo' });
    log.step(1, { 'loss/pg': 0.5 });
    log.samples(1, [{ question: 'q', reward: 1 }]);
    log.step(2, { 'loss/pg': 0.4 });
    // Killed while appending step 3's records: the last line of each file is cut short.
    appendFileSync(log.metricsPath, '{"type":"step","time":"2026-01-01T00:00:00Z","st');
    appendFileSync(log.samplesPath, '{"step":3,"question":"q3","rew');
    // Readers skip it (saying so when asked), so `compare` can still read the run's config.
    const notes: string[] = [];
    expect(readLog(log.metricsPath, (n) => notes.push(n)).map((r) => r.type)).toEqual([
      'config',
      'step',
      'step',
    ]);
    expect(notes).toEqual([`${log.metricsPath}:4: skipped a torn last record (not valid JSON)`]);

    const dropped = log.truncateAfter(1);
    expect(dropped).toHaveLength(2);
    expect(dropped[0]).toMatch(
      new RegExp(`^${escape(log.metricsPath)}:4: dropped a torn last record`),
    );
    expect(dropped[1]).toMatch(
      new RegExp(`^${escape(log.samplesPath)}:2: dropped a torn last record`),
    );
    expect(readLog(log.metricsPath).map((r) => r.type)).toEqual(['config', 'step']);
    expect(readFileSync(log.samplesPath, 'utf8')).toBe('{"step":1,"question":"q","reward":1}\n');
    // The files are whole again: appends go on a line of their own, and nothing is left to drop.
    log.step(2, { 'loss/pg': 0.4 });
    expect(readLog(log.metricsPath).map((r) => r.type)).toEqual(['config', 'step', 'step']);
    expect(log.truncateAfter(2)).toEqual([]);
  });

  it('a bad line before the last one is an error naming the file and line, never dropped', () => {
    const log = new RunLog(dir);
    log.start('covrl train', { method: 'grpo' });
    log.step(1, { 'loss/pg': 0.5 });
    const good = readFileSync(log.metricsPath, 'utf8');
    writeFileSync(log.metricsPath, good.replace('"type":"step"', '"type":step'));
    log.step(2, { 'loss/pg': 0.4 });
    const before = readFileSync(log.metricsPath, 'utf8');
    expect(() => log.truncateAfter(1)).toThrow(
      new RegExp(`^${escape(log.metricsPath)}:2: not valid JSON \\(`),
    );
    expect(() => readLog(log.metricsPath)).toThrow(`${log.metricsPath}:2: not valid JSON`);
    expect(readFileSync(log.metricsPath, 'utf8')).toBe(before); // left as it was
  });

  it('assertFinite checks loss terms, rewards and the gradient norm only', () => {
    expect(() => assertFinite({ 'ratio/max': Infinity, 'loss/pg': 1 }, 3)).not.toThrow();
    expect(() => assertFinite({ 'grad/norm': Number.NaN }, 3)).toThrow(NonFiniteError);
    expect(() => assertFinite({ 'reward/mean': -Infinity }, 4)).toThrow(/'reward\/mean' at step 4/);
  });
});
