"""Drives the simulator with IBM's official Python SDK (ibm-watson) through IAM authentication.

Environment: WSO_SIM_STT_URL, WSO_SIM_TTS_URL, WSO_SIM_IAM_URL, WSO_SIM_APIKEY.
Exits non-zero on the first failed check. Run by tests/ecosystem/sdk_python.rs.
"""

import io
import math
import os
import struct
import sys
import tarfile
import time

from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
from ibm_watson import SpeechToTextV1, TextToSpeechV1
from ibm_watson.speech_to_text_v1 import CustomWord
from ibm_watson.text_to_speech_v1 import Word


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def wait(what, fn, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            print("ok:", what, flush=True)
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def tone_tar_gz(name, rate, seconds):
    """A gzip-compressed tar holding one PCM WAV of `seconds` of a 400 Hz tone: the simulator,
    like IBM, measures the audio it receives (not what a header declares), and the archive stays
    small (tens of KB for ten minutes)."""
    period = rate // 400
    one = b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * i / period))) for i in range(period)
    )
    data = one * (int(rate * seconds) // period)
    wav = wav_header(rate, len(data) / (rate * 2), data)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(wav)
        tar.addfile(info, io.BytesIO(wav))
    return buf.getvalue()


def wav_header(rate, seconds, data=b"\0" * 64):
    """A PCM 16-bit mono WAV whose header declares `seconds` of audio, followed by `data`."""
    byte_rate = rate * 2
    data_len = int(seconds * byte_rate)
    return (
        b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, byte_rate, 2, 16)
        + b"data" + struct.pack("<I", data_len) + data
    )


def main():
    auth = IAMAuthenticator(os.environ["WSO_SIM_APIKEY"], url=os.environ["WSO_SIM_IAM_URL"])
    stt = SpeechToTextV1(authenticator=auth)
    stt.set_service_url(os.environ["WSO_SIM_STT_URL"])
    tts = TextToSpeechV1(authenticator=auth)
    tts.set_service_url(os.environ["WSO_SIM_TTS_URL"])

    # The simulator's profile: "ibm-cloud" (today's service: previous-generation models
    # withdrawn, no acoustic customization) or "legacy" (the 2021-2022 service).
    legacy = os.environ.get("WSO_SIM_PROFILE", "ibm-cloud") == "legacy"
    base = "en-US_BroadbandModel" if legacy else "en-US"

    # --- base models ---
    models = stt.list_models().get_result()["models"]
    check(any(m["name"] == base for m in models), "list_models")
    check(
        any(m["name"] == "en-US_BroadbandModel" for m in models) == legacy,
        "previous-generation models are listed on the legacy profile only",
    )
    check(stt.get_model("en-US_Telephony").get_result()["rate"] == 8000, "get_model")
    if not legacy:
        features = stt.get_model("en-US").get_result()["supported_features"]
        check(features["custom_language_model"] and not features["custom_acoustic_model"],
              "a large speech model: language models only")

    # --- custom language model ---
    created = stt.create_language_model(
        "sdk-check", base, description="created by the IBM Python SDK"
    )
    check(created.get_status_code() == 201, "create_language_model returns 201")
    lm = created.get_result()["customization_id"]
    model = stt.get_language_model(lm).get_result()
    check(model["status"] == "pending" and model["created"] == model["updated"], "get_language_model")

    stt.add_corpus(lm, "corpus1", io.BytesIO(b"Watson speech customization with Kubernetes operators"))
    wait(
        "corpus analyzed",
        lambda: stt.get_corpus(lm, "corpus1").get_result()["status"] == "analyzed",
    )
    corpus = stt.get_corpus(lm, "corpus1").get_result()
    check(corpus["total_words"] == 6, "corpus words counted from the multipart part")
    check(len(stt.list_corpora(lm).get_result()["corpora"]) == 1, "list_corpora")

    stt.add_words(lm, [CustomWord(word="IBM", sounds_like=["I B M"], display_as="IBM")])
    wait("model ready after words", lambda: stt.get_language_model(lm).get_result()["status"] == "ready")
    stt.add_word(lm, "Kubernetes", sounds_like=["koo ber net ees"])
    words = stt.list_words(lm, sort="-count").get_result()["words"]
    # Only previous-generation models extract out-of-vocabulary words from corpora.
    expected = {"IBM", "Kubernetes", "Watson"} if legacy else {"IBM", "Kubernetes"}
    check(expected <= {w["word"] for w in words}, "list_words")
    check(stt.get_word(lm, "IBM").get_result()["sounds_like"] == ["I B M"], "get_word")
    try:
        stt.add_word(lm, "R2D2", sounds_like=["r 2 d 2"])
        raise AssertionError("PUT with a digit in sounds_like must fail")
    except ApiException as e:
        check(e.code == 400, "add_word with a bad sounds_like is 400")
    ids = [m["customization_id"] for m in stt.list_language_models().get_result()["customizations"]]
    check(lm in ids, "list_language_models")

    check(stt.train_language_model(lm).get_status_code() == 200, "train_language_model")
    wait("LM available", lambda: stt.get_language_model(lm).get_result()["status"] == "available")
    check(stt.get_language_model(lm).get_result()["progress"] == 100, "progress 100")
    stt.delete_language_model(lm)
    try:
        stt.get_language_model(lm)
        raise AssertionError("deleted model still readable")
    except ApiException as e:
        check(e.code == 401, "deleted model is 401")
        check("X-global-transaction-id" in str(e), "error carries the transaction id")

    # --- custom acoustic model ---
    if not legacy:
        try:
            stt.create_acoustic_model("sdk-am", "en-US_BroadbandModel")
            raise AssertionError("an acoustic model on a withdrawn base must be refused")
        except ApiException as e:
            check(e.code == 400 and "discontinued" in e.message, "withdrawn base refused with 400")
    else:
        acoustic_model_check(stt)

    tts_check(tts, legacy)
    print("SDK CHECK OK", flush=True)


def acoustic_model_check(stt):
    am = stt.create_acoustic_model("sdk-am", "en-US_BroadbandModel").get_result()["customization_id"]
    stt.add_audio(am, "audio1", tone_tar_gz("calls.wav", 16000, 660),
                  content_type="application/gzip", contained_content_type="audio/wav")
    wait("audio ok",
         lambda: stt.get_audio(am, "audio1").get_result()["container"]["status"] == "ok")
    listing = stt.list_audio(am).get_result()
    check(listing["total_minutes_of_audio"] >= 10, "list_audio totals")
    archive = stt.get_audio(am, "audio1").get_result()
    check(archive["container"]["details"]["compression"] == "gzip", "get_audio archive details")
    check(archive["audio"][0]["details"]["frequency"] == 16000, "get_audio member details")
    stt.train_acoustic_model(am)
    wait("AM available", lambda: stt.get_acoustic_model(am).get_result()["status"] == "available")
    check(am in [m["customization_id"] for m in stt.list_acoustic_models().get_result()["customizations"]],
          "list_acoustic_models")
    stt.delete_audio(am, "audio1")
    stt.delete_acoustic_model(am)


def tts_check(tts, legacy):
    vm = tts.create_custom_model("sdk-voice", language="en-US", description="d").get_result()["customization_id"]
    tts.add_words(vm, [Word(word="IBM", translation="eye bee em")])
    tts.add_word(vm, "NASA", "nassa")
    check(tts.get_word(vm, "NASA").get_result()["translation"] == "nassa", "tts get_word")
    check([w["word"] for w in tts.list_words(vm).get_result()["words"]] == ["IBM", "NASA"], "tts list_words")
    got = tts.get_custom_model(vm).get_result()
    check(got["language"] == "en-US" and len(got["words"]) == 2, "tts get_custom_model")
    check(vm in [m["customization_id"] for m in tts.list_custom_models().get_result()["customizations"]],
          "tts list_custom_models")
    tts.update_custom_model(vm, name="renamed", words=[Word(word="ACL", translation="ackle")])
    check(tts.get_custom_model(vm).get_result()["name"] == "renamed", "tts update_custom_model")
    tts.delete_word(vm, "IBM")
    if not legacy:
        try:
            tts.add_word(vm, "Kyoto", "kyoto", part_of_speech="Koyu")
            raise AssertionError("part_of_speech on an en-US model must be refused")
        except ApiException as e:
            check(e.code == 400 and "ja-JP" in e.message, "part_of_speech is for ja-JP only")
    check(tts.delete_custom_model(vm).get_status_code() == 204, "tts delete_custom_model 204")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - report anything and fail
        print("SDK CHECK FAILED:", repr(exc), file=sys.stderr, flush=True)
        sys.exit(1)
