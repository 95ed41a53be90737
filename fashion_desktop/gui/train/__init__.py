"""The Train tab: training form, run control, live plots, runs history and model comparison."""
