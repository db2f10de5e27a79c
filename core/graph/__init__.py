"""Model graphs: building, layout, diff and costs, headless (the view is in gui/)."""
