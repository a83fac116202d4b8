"""The instants the CA's tests start from."""

from __future__ import annotations

from datetime import datetime

from fxml.clock import TAIWAN

#: The reference certificate's first issuance; the CA gives it the not-after
#: 2023-05-14 23:59:59, so it can be renewed on the proof sheet's date.
FIRST_ISSUE = datetime(2021, 5, 14, 10, 0, 0, tzinfo=TAIWAN)
#: The proof sheet's (憑證證明單) 憑證生效日: when the reference renewal happens.
RENEWED_AT = datetime(2023, 4, 17, 11, 28, 33, tzinfo=TAIWAN)
