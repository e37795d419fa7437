import { effectiveApproval } from '../../src/routing/risk/approval';

const set = (mode: 'auto' | 'manual' | null, expirySeconds: number | null = null) => ({ mode, expirySeconds });

describe('effectiveApproval', () => {
  it("auto unless the route or the workspace says manual; the workspace's manual is a ceiling a route cannot relax", () => {
    expect(effectiveApproval(set(null), set(null))).toBeUndefined();
    expect(effectiveApproval(set('auto'), set(null))).toBeUndefined();
    expect(effectiveApproval(set('manual'), set(null))).toEqual({ expirySeconds: 300 });
    expect(effectiveApproval(set(null), set('manual'))).toEqual({ expirySeconds: 300 });
    expect(effectiveApproval(set('auto'), set('manual'))).toEqual({ expirySeconds: 300 });
    expect(effectiveApproval(set('manual'), set('auto'))).toEqual({ expirySeconds: 300 });
  });

  it("the route's expiry wins up to the workspace's; unset, the workspace's, else 5 minutes", () => {
    expect(effectiveApproval(set('manual', 120), set(null))).toEqual({ expirySeconds: 120 });
    expect(effectiveApproval(set('manual', 60), set(null, 60))).toEqual({ expirySeconds: 60 });
    expect(effectiveApproval(set('manual', 61), set(null, 60))).toEqual({ expirySeconds: 60 });
    expect(effectiveApproval(set('manual'), set(null, 900))).toEqual({ expirySeconds: 900 });
  });
});
