"""Triggers from outside: another system POSTs JSON to `/hooks/t/<id>` and a run of the trigger's
target starts (app/web/triggers/deliver.py). This package is the domain the web's pages, the
delivery endpoint and the JSON API share: the stored triggers and their deliveries (`store`), the
secrets that authenticate a delivery (`secrets`), and how a body becomes the target's input
(`mapping`, `targets`)."""
