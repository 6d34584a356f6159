"""The dashboard (`monitor serve`, issue 12): server-rendered pages and a JSON API over the application layer."""
