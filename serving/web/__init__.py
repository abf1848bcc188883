"""The web pages: the ops dashboard (`/ops`), customer tracking (`/track/{id}`) and the checkout widget demo
(`/widget`). Server-rendered Jinja2 templates over the same collaborators as the JSON API."""
