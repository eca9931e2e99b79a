"""Read models built from the event log (customer 360, inbox, advocates, complaints, KPIs)."""
