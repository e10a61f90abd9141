import { describe, expect, it } from 'vitest';
import { Plan, type DeepPartial } from '@dstack/core/gen/daemon';
import { decide, pyList } from './apply-run';

const plan = (over: DeepPartial<Plan>): Plan => Plan.fromPartial({ runName: 'vscode', ...over });

describe('decide', () => {
  it('submits when no run of that name is active', () => {
    expect(decide(plan({}), 'vscode')).toEqual({ action: 'submit', question: 'Submit the run vscode?' });
    expect(decide(plan({ currentRun: { name: 'vscode', status: 'terminated' }, changedFields: ['image'] }), 'vscode').action).toBe(
      'submit',
    );
  });

  it('updates in place when only in-place fields changed, with the seed page words', () => {
    const d = decide(
      plan({ currentRun: { name: 'vscode', status: 'running' }, changedFields: ['inactivity_duration'], inPlace: true }),
      'vscode',
    );
    expect(d).toEqual({
      action: 'update',
      question: 'Update the run?',
      notice: "Detected configuration changes that can be updated in-place: ['inactivity_duration']",
    });
  });

  it('asks to stop and override for any other change', () => {
    const d = decide(
      plan({ currentRun: { name: 'vscode', status: 'provisioning' }, changedFields: ['image', 'inactivity_duration'] }),
      'vscode',
    );
    expect(d.action).toBe('override');
    expect(d.question).toBe('Stop and override the run?');
    expect(d.notice).toContain("cannot be updated in-place: ['image', 'inactivity_duration']");
  });

  it('says when nothing changed', () => {
    const d = decide(plan({ currentRun: { name: 'vscode', status: 'running' } }), 'vscode');
    expect(d).toMatchObject({ action: 'unchanged', notice: 'Active run vscode already exists. Detected no changes.' });
  });
});

describe('pyList', () => {
  it("prints a list as Python's repr", () => {
    expect(pyList([])).toBe('[]');
    expect(pyList(['a', 'b'])).toBe("['a', 'b']");
  });
});
