"""Restaurant table bookings (seed 002): tables, prices over time, booking requests, staff decisions."""
