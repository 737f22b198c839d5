"""Running a job: work units (planning), cost-ordered scheduling, Ray options and placement groups,
the driver loop and the scoring actor. Only the driver and the actor import Ray, lazily."""
