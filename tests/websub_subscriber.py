"""An independent WebSub subscriber for gazette's hub tests: Flask-WebSub's subscriber, run as
its documentation shows. Usage: websub_subscriber.py PORT TOPIC_URL DB_PATH

It discovers the hub from TOPIC_URL (Link headers, else the feed's links), subscribes, and
prints one line per event: `discovered hub=… topic=…`, `subscribed …`, `denied …`,
`notified BODY` (newlines made spaces)."""

import sys
import threading

from flask import Flask
from flask_websub.subscriber import (
    Subscriber,
    SQLite3SubscriberStorage,
    SQLite3TempSubscriberStorage,
    discover,
)


def say(*words):
    print(*words, flush=True)


def main():
    port, topic_url, db = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    app = Flask(__name__)
    app.config["SERVER_NAME"] = "127.0.0.1:%d" % port
    app.config["PREFERRED_URL_SCHEME"] = "http"
    subscriber = Subscriber(SQLite3SubscriberStorage(db), SQLite3TempSubscriberStorage(db))
    app.register_blueprint(subscriber.build_blueprint(url_prefix="/callbacks"))

    subscriber.add_success_handler(lambda topic, callback_id, mode: say(mode + "d", topic))
    subscriber.add_error_handler(lambda topic, callback_id, reason: say("denied", topic, reason))
    subscriber.add_listener(
        lambda topic, callback_id, body: say("notified", body.decode("utf-8").replace("\n", " "))
    )

    def subscribe():
        found = discover(topic_url)
        say("discovered hub=%s topic=%s" % (found["hub_url"], found["topic_url"]))
        with app.app_context():
            subscriber.subscribe(lease_seconds=3600, **found)

    threading.Timer(0.5, subscribe).start()
    app.run(host="127.0.0.1", port=port, threaded=True)


if __name__ == "__main__":
    main()
