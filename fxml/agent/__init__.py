"""The local card agent: an HTTP service on 127.0.0.1 through which the FXML
platform's pages reach the card (as Taiwanese banks' local signing components
do). The PIN goes page → agent → card only.
"""
