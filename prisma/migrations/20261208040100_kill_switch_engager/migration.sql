-- Who may release the workspace kill switch depends on who engaged it (issue 19, finding 5): the highest role
-- among those who engaged it while it stayed engaged. NULL while released, and on switches engaged before this.
ALTER TABLE workspaces ADD COLUMN kill_switch_engaged_role text CHECK (kill_switch_engaged_role IN ('owner', 'admin', 'trader', 'viewer'));
