-- Workflows started from a conversation. Owned by app/web/chat (the run card and the proposal);
-- the engine writes runs.chat_id and never reads it.

-- A run belongs to the chat it was started from; deleting the chat keeps the run (it still shows
-- on the dashboard and in the approvals inbox), without the link.
UPDATE runs SET chat_id = NULL
WHERE chat_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = runs.chat_id);
ALTER TABLE runs ADD CONSTRAINT runs_chat_id_fkey
    FOREIGN KEY (chat_id) REFERENCES conversations (id) ON DELETE SET NULL;

-- A reply may propose a workflow (the model's `propose_workflow` tool call); nothing starts until
-- the user confirms. {"workflow", "title", "input", "reason", "status": pending|started|dismissed,
-- "run_id"}: the status moves once, under the message row's lock, so a double click starts one run.
ALTER TABLE messages ADD COLUMN proposal jsonb;
