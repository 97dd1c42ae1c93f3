"""The canonical model every dialect maps onto, and the outcome every record gets."""
