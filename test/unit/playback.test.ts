import { describe, expect, it } from 'vitest';
import { PlaybackModel, type PlaybackOptions } from '../../src/peer/playback.js';

const options: PlaybackOptions = {
  targetLatencyMs: 2000,
  startBufferMs: 1000,
  chunkDurationMs: 500,
  liveJumpAfterStallMs: 6000,
};

/** Chunk seq is captured at seq*500 ms (stream starts at time 0). */
const chunk = (seq: number) => ({ seq, durationMs: 500, captureTimeMs: seq * 500 });

describe('PlaybackModel', () => {
  it('changes its epoch when due times may come earlier, and only then', () => {
    const model = new PlaybackModel(options, 5200);
    const epochs = [model.epoch];
    // A start position chosen: changes. The start buffer completing: the same.
    model.add(chunk(9), 5200);
    epochs.push(model.epoch);
    model.add(chunk(10), 5300);
    epochs.push(model.epoch);
    // Playback beginning after buffering: changes. 10 following 9, of nominal duration: the same.
    model.tick(6500);
    epochs.push(model.epoch);
    model.tick(7000);
    epochs.push(model.epoch);
    expect(model.dueTime(12, 7000)).toBe(8000);
    // 11 missing: stalled at 7500, and due times only move later.
    model.tick(7600);
    epochs.push(model.epoch);
    expect(model.state).toBe('stalled');
    expect(model.dueTime(12, 7600)).toBeGreaterThan(8000);
    // The stall ending: changes.
    model.add(chunk(11), 7700);
    epochs.push(model.epoch);
    // 12 beginning, shorter than nominal: changes (held before it began: the same).
    model.add({ seq: 12, durationMs: 400, captureTimeMs: 6000 }, 7800);
    epochs.push(model.epoch);
    model.tick(8200);
    epochs.push(model.epoch);
    // 13 missing: stalled; 20 coming meanwhile: the same; the jump back to live: changes.
    model.tick(8700);
    epochs.push(model.epoch);
    model.add(chunk(20), 9000);
    epochs.push(model.epoch);
    model.tick(8600 + options.liveJumpAfterStallMs);
    epochs.push(model.epoch);
    expect(model.playheadSeq).toBe(20);
    expect(epochs).toEqual([0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5]);
  });

  it('nextChangeAt() is when a tick must come: the planned start, the held chunks running out, the jump back to live', () => {
    const model = new PlaybackModel(options, 5200);
    expect(model.nextChangeAt()).toBe(Infinity);
    model.add(chunk(9), 5200);
    // Buffering without the start buffer: only a chunk can change it.
    expect(model.nextChangeAt()).toBe(Infinity);
    model.add(chunk(10), 5300);
    expect(model.nextChangeAt()).toBe(6500);
    model.tick(6500);
    // Playing 9 and holding 10: both end at 7500; then 11 and 12 coming put it off.
    expect(model.nextChangeAt()).toBe(7500);
    model.add(chunk(11), 6600);
    expect(model.nextChangeAt()).toBe(8000);
    model.tick(7000);
    model.add(chunk(12), 7100);
    expect(model.nextChangeAt()).toBe(8500);
    // A tick late or early changes nothing: the stall begins when 12 ends.
    model.tick(9000);
    expect(model.state).toBe('stalled');
    expect(model.report(9000).stalledMs).toBe(500);
    expect(model.nextChangeAt()).toBe(8500 + options.liveJumpAfterStallMs);
  });

  it('starts at the newest chunk it has, the target latency after its capture, once the start buffer is held', () => {
    // A viewer created at t=5200 receives chunk 9 (captured at 4500): it starts there, planned
    // for 4500 + 2000, and does not go back for older chunks.
    const model = new PlaybackModel(options, 5200);
    model.add(chunk(9), 5200);
    expect(model.state).toBe('buffering');
    expect(model.playheadSeq).toBe(9);
    expect(model.dueTime(9, 5200)).toBe(6500);
    expect(model.dueTime(8, 5200)).toBeNull();
    // The start buffer (9 and 10) is needed by the start; 11 when it plays.
    expect(model.dueTime(10, 5200)).toBe(6500);
    expect(model.dueTime(11, 5200)).toBe(7500);
    // 10 completes the start buffer (1000 ms); playback begins at 6500, not before.
    model.add(chunk(10), 5300);
    model.tick(6499);
    expect(model.state).toBe('buffering');
    model.tick(6500);
    expect(model.state).toBe('playing');
    const report = model.report(6500);
    expect(report.startupMs).toBe(1300);
    expect(report.latencyMs).toBe(2000);
    expect(report.chunksPlayed).toBe(1);
  });

  it('starts late when the start buffer completes after the planned time', () => {
    const model = new PlaybackModel(options, 0);
    model.add(chunk(4), 1000);
    model.tick(4100); // planned for 2000 + 2000 = 4000; chunk 5 is missing
    expect(model.state).toBe('buffering');
    // Late: the missing chunk of the start buffer is due now, not a chunk's length from now.
    expect(model.dueTime(5, 4100)).toBe(4100);
    model.add(chunk(5), 4200);
    expect(model.state).toBe('playing');
    expect(model.report(4200).latencyMs).toBe(2200);
  });

  it('plays chunk after chunk in real time when each arrives before its turn', () => {
    const model = new PlaybackModel(options, 0);
    for (let seq = 0; seq < 4; seq++) model.add(chunk(seq), seq * 500 + 600);
    model.tick(2000);
    expect(model.state).toBe('playing');
    for (let seq = 4; seq < 20; seq++) {
      model.add(chunk(seq), seq * 500 + 600);
      model.tick(seq * 500 + 700);
    }
    const report = model.report(10_000);
    expect(report.stalls).toBe(0);
    expect(report.stalledMs).toBe(0);
    expect(report.latencyP50Ms).toBe(2000);
    expect(report.latencyP95Ms).toBe(2000);
    expect(report.playheadSeq).toBe(16);
  });

  it('stalls when the chunk at the playhead is missing and recovers when it arrives', () => {
    const model = new PlaybackModel(options, 0);
    for (let seq = 0; seq < 3; seq++) model.add(chunk(seq), 600 + seq * 500);
    model.tick(2000); // plays 0
    model.tick(3500); // 1 at 2500, 2 at 3000, 3 due at 3500: missing
    expect(model.state).toBe('stalled');
    expect(model.playheadSeq).toBe(3);
    expect(model.report(3800).stalledMs).toBe(300);
    model.add(chunk(3), 3900);
    expect(model.state).toBe('playing');
    const report = model.report(3900);
    expect(report.stalls).toBe(1);
    expect(report.stalledMs).toBe(400);
    expect(report.latencyMs).toBe(3900 - 1500);
    expect(report.chunksSkipped).toBe(0);
  });

  it('reports the due time of chunks ahead of the playhead', () => {
    const model = new PlaybackModel(options, 0);
    for (let seq = 0; seq < 3; seq++) model.add(chunk(seq), 1000);
    model.tick(2100);
    expect(model.dueTime(0, 2100)).toBe(2000);
    expect(model.dueTime(1, 2100)).toBe(2500);
    expect(model.dueTime(4, 2100)).toBe(4000);
  });

  it('jumps back to the target latency after a long stall, counting skipped chunks', () => {
    const model = new PlaybackModel(options, 0);
    for (let seq = 0; seq < 2; seq++) model.add(chunk(seq), 1000);
    model.tick(2000);
    model.tick(3000); // 2 missing from 3000
    expect(model.state).toBe('stalled');
    // Chunks 20.. arrive much later; the stall passes 6 s and the player jumps.
    for (let seq = 14; seq < 22; seq++) model.add(chunk(seq), 9000 + seq);
    model.tick(9100);
    const report = model.report(9100);
    expect(report.stalls).toBe(1);
    expect(report.chunksSkipped).toBeGreaterThan(0);
    expect(model.state === 'buffering' || model.state === 'playing').toBe(true);
  });
});
