"""Functions that run in images built from code (the image tests)."""

import os

import ketch

image = (ketch.Image.debian_slim()
         .run_commands("echo from-run-commands > /etc/ketch-test-marker",
                       "echo 'WHERE = \"image\"' > /usr/lib/python3/dist-packages/only_in_image.py")
         .env({"KETCH_TEST_GREETING": "hello from the image"})
         .workdir("/srv/work")
         .run_function(lambda path: open(path, "w").write("from run_function"),
                       args=("/srv/work/made-by-function",)))

app = ketch.App("imaged", image=image)

with image.imports():
    import only_in_image


@app.function()
def describe() -> dict:
    import sys

    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "marker": open("/etc/ketch-test-marker").read().strip(),
            "greeting": os.environ.get("KETCH_TEST_GREETING"),
            "cwd": os.getcwd(),
            "made_by_function": open("/srv/work/made-by-function").read(),
            "debian": os.path.exists("/etc/debian_version"),
            "only_in_image": only_in_image.WHERE,
            "host_tests_visible": os.path.exists(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__))) + "/test_image.py")}


@app.cls(ephemeral_disk=64)
class Reader:
    @ketch.enter()
    def load(self):
        self.marker = open("/etc/ketch-test-marker").read().strip()

    @ketch.method()
    def marker_and_cwd(self) -> list:
        return [self.marker, os.getcwd()]
