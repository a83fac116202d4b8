"""``fxmlsim demo``: a virtual TWCA card, inserted and read through PC/SC.

Starts a private stack in a throw-away home (or the given ``--home``),
personalizes a card from a fixture profile with a certificate from the
simulated TWCA CA, inserts it, and reads it back the way the bank's card
agent would: over pyscard, through pcscd and vpcd. The lines a bank officer
reads are in Traditional Chinese, with the labels of the bank's screens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection
from fxml.display import display_name, taiwan_text
from simulator.card.profile import load_profile
from simulator.home import Home


def run_demo(home: Home | None, profile: Path) -> int:
    """Run the demo in ``home``, or in a throw-away home removed afterwards."""
    if home is not None:
        return _demo(home, profile)
    temporary = Path(tempfile.mkdtemp(prefix="fxmlsim-demo-"))
    try:
        return _demo(Home(temporary), profile)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _demo(home: Home, profile_path: Path) -> int:
    profile = load_profile(profile_path)
    env = home.up(readers=2)
    os.environ.update(env)
    try:
        print(f"1. 虛擬讀卡機已啟動 (PCSCLITE_CSOCK_NAME={env['PCSCLITE_CSOCK_NAME']})")
        print(f"   模擬 TWCA 憑證中心: {env['FXMLSIM_CA_URL']}")
        image = home.create_card(profile_path, name="demo", replace=True)
        print(f"2. 已建立憑證晶片卡映像檔: {image}")
        reader = home.stack.insert(image, 0)["name"]
        print(f"3. 已插入憑證載具: {reader}")

        opensc = shutil.which("opensc-tool")
        if opensc:
            name = subprocess.run([opensc, "--reader", reader, "--name"], capture_output=True, text=True, timeout=60)
            print(f"   opensc-tool --name: {name.stdout.strip() or name.stderr.strip()}")

        with PcscConnection(reader) as conn:
            client = PivCardClient(conn)
            client.select()
            info = client.card_info()
            print("4. PC/SC 讀取結果")
            print(f"   ATR              : {conn.atr.hex(' ').upper()}")
            print(f"   卡號             : {info.card_serial}")
            print(f"   憑證儲存媒體     : {info.carrier}")
            print(f"   持卡人識別碼     : {info.holder_id}")
            print(f"   憑證載具密碼剩餘嘗試次數: {client.pin_tries_left()}")
            certs = client.list_certificates()
            for entry in certs:
                cert = entry.certificate
                cn = str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)
                print(f"   --- 金鑰容器 {int(entry.container):02X} ---")
                print(f"   Common Name      : {cn}")
                print(f"   簽章憑證序號     : {cert.serial_number:X}")
                print(f"   主旨(使用者識別名稱): {display_name(cert.subject)}")
                print(f"   憑證發行者       : {display_name(cert.issuer)}")
                print(f"   憑證生效日       : {taiwan_text(cert.not_valid_before_utc)}")
                print(f"   憑證到期日       : {taiwan_text(cert.not_valid_after_utc)}")
            for depth, ca in enumerate(client.ca_chain(), 1):
                print(f"   卡片內憑證鏈 {depth}   : {display_name(ca.subject)}")

            client.verify_pin(profile.pin)
            challenge = "合作金庫 FXML 憑證更新 demo".encode()
            entry = certs[0]
            signature = client.sign(entry.container, challenge)
            public = entry.certificate.public_key()
            if not isinstance(public, rsa.RSAPublicKey):
                raise TypeError("the card's certificate holds no RSA key")
            public.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
            print("5. 卡片以私密金鑰簽章, 以憑證公開金鑰驗證: 成功")
        home.stack.remove(0)
        print("6. 已移除憑證載具")
    finally:
        home.down()
        for key in env:
            os.environ.pop(key, None)
    print("7. 已停止虛擬讀卡機與憑證中心")
    return 0
