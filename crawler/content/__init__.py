"""Content checks on article and home pages: parsing, the text matcher, the link checker (issue 11)."""
