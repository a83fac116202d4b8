"""The FXML 憑證管理 platform: the bank's certificate-management web
application, entered with a signed ticket from one of the bank's systems.
"""
