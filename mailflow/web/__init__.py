"""The public web side: certificate pages and badges, over the service's database.

`app.create_app` composes the page modules (`certificate`, `badge`, ...) into one
Starlette application; `server` runs it under uvicorn, in `siegel serve` or alone as
`siegel web`. docs/web.md describes the structure and how to add a page.
"""
