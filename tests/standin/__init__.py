"""Stand-ins for the services Buzzwatch talks to over HTTP, all on 127.0.0.1.

`base.StandInServer` is the one loopback server: it records every request and offers call
assertions (like opsdroid's ExternalAPIMockServer). Each service is a small subclass that
checks what the real service checks and can answer with that service's errors:

- chat.ChatServer       a generic chat webhook (delivery fault tests)
- feeds.FeedServer      RSS/JSON feeds: 304s, slow, trickled, gzipped and oversized answers
- slack.SlackAPI        the Slack Web API (slack_sdk's WebClient(base_url=...))
- dingtalk.RobotServer  DingTalk's custom robot and session webhooks

raw.RawServer and its subclasses are not HTTP servers: they write raw bytes (silence, a
dribbled header, a trickled or half-sent body) for the fetch deadline and stop tests.

The websocket stand-ins (Slack Socket Mode, DingTalk Stream) build on tests/wsstandin.py;
the DingTalk Stream gateway's HTTP half (tests/dingtalk/gateway.py) is a StandInServer too.
"""
