"""Create the DB secret (RDS managed-secret shape) in the moto server of this container."""

import json
import os
import time

import boto3

client = boto3.client("secretsmanager", endpoint_url="http://127.0.0.1:5000")
value = json.dumps(
    {
        "username": os.environ["RDSBOX_DB_USERNAME"],
        "password": os.environ["RDSBOX_DB_PASSWORD"],
        "engine": "postgres",
        "host": "127.0.0.1",
        "port": int(os.environ["DB_WRITER_PORT"]),
        "dbname": os.environ["DB_NAME"],
        "dbInstanceIdentifier": os.environ["RDSBOX_DB_IDENTIFIER"],
    }
)
for _ in range(300):  # the server starts in the background: up to 30 s
    try:
        client.create_secret(Name=os.environ["RDSBOX_SECRET_NAME"], SecretString=value)
        break
    except client.exceptions.ResourceExistsException:
        break
    except Exception:
        time.sleep(0.1)
else:
    raise SystemExit("moto did not answer within 30 s")
